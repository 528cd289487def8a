"""Cycle-exact DRAM + PIM channel model: command set, timing rules, numba engine, checker."""
