"""cardcrm's benchmarks and the data generator they run on (``python -m bench --help``)."""
