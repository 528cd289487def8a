"""The vocabulary every stage imports and none owns: errors, atomic file I/O, element types,
the DRAM/PIM command set and the operator-kind table. Imports nothing else from pimsim."""
