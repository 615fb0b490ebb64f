from lingualift.cli.main import main

main()
