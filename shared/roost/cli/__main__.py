from roost.cli.app import main

main()
