from tiers.cli.app import main

main()
