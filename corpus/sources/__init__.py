"""Sources: readers that turn raw input files into Document batches."""
