"""`python -m touchline` runs the same CLI as `touchline`."""

from touchline.cli.main import main

if __name__ == "__main__":  # a module imported again (a spawned process) must not run the CLI
    main()
