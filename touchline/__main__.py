"""`python -m touchline` runs the same CLI as `touchline`."""

from touchline.cli.main import main

main()
