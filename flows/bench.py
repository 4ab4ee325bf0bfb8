"""`python -m flows.bench WHAT`: the benchmarks (they live in `flows.testing.bench`)."""

from flows.testing.bench import main

if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
