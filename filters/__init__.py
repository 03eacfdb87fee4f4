"""Decisions about documents: each filter scores, then keeps or drops with a named reason.

Filters are plain functions over Arrow tables; they know nothing of Ray or of files.
"""
