"""`python -m gandiag ...` runs the command line; so does `torchrun --nproc-per-node N -m gandiag run ...`."""
if __name__ == "__main__":
    from cli import main  # only here: the library never imports the CLI

    main()
