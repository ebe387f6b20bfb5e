"""The `tiers` command line (see :mod:`tiers.cli.app`)."""


def main() -> None:
    from tiers.cli.app import main as run

    run()
