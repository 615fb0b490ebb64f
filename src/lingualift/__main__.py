from lingualift.cli import main

main()
