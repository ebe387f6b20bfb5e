"""The `tiers` command line (see :mod:`tiers.cli.app`)."""

import gc

# Building and compiling query expressions allocates hundreds of thousands of small objects
# that live until the command ends, and almost none form cycles: at Python's default (a young
# collection every 700 allocations) the collector walks them again and again, a tenth of a
# small run. Collecting rarely keeps cycles bounded all the same.
GC_THRESHOLD = (50_000, 20, 20)


def main() -> None:
    from tiers.cli.app import main as run

    gc.set_threshold(*GC_THRESHOLD)
    try:
        run()
    finally:
        # at exit the interpreter would otherwise walk every object the run left, once more,
        # before freeing them (about 0.3 s after a small run)
        gc.freeze()
