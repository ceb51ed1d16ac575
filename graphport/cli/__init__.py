"""The command line: argument parsing and printing over graphport.commands."""
