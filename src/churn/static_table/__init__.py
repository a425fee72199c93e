"""The flag-table mode: a static table with a churn flag, cross-validated or held out."""
