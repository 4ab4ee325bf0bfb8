"""`python -m flows.bench WHAT`: the benchmarks (they live in `flows.testing.bench`)."""

import sys

try:
    from flows.testing.bench import main
except ImportError:  # a wheel install: the benchmarks come with the source checkout
    sys.stderr.write("Các phép đo (benchmark) chỉ có trong mã nguồn: cài bằng pip install -e .\n")
    sys.exit(2)

if __name__ == "__main__":
    main(sys.argv[1:])
