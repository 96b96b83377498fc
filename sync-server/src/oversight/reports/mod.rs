//! Reports produced by the server: the town summary and the record PDF.
