"""`make bench`: the benchmark suite (filled in by the scale-out work)."""

from __future__ import annotations


def main() -> None:
    print("no benchmarks yet")


if __name__ == "__main__":
    main()
