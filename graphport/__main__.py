from graphport.cli.app import main

main()
