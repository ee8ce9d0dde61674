from ..dates import *  # noqa: F403  (one format in every language: see dates.py)
