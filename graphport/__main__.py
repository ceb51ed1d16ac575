from graphport.cli.entry import main

main()
