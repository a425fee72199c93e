"""The week's files: tables, owner workbooks, the page and the atomic week store."""
