"""What tests, benchmarks and the emulator command use: never imported by the product.

Left out of the wheel: it comes with the source checkout (`pip install -e .`).
"""
