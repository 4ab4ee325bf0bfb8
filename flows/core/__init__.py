"""Pure pandas: reading grids by key, checks, consolidation and audit rules.

No Prefect, no network, no files: the core gets its inputs (`flows.core.inputs`) and the
config as data, and returns data.
"""
