"""Letters: the files under letters/, their validation, sync into the database, public pages."""
