"""`python -m gandiag ...` runs the command line; so does `torchrun --nproc-per-node N -m gandiag run ...`."""
if __name__ == "__main__":
    from .cli import main  # the command line imports the library, never the other way round

    main()
