"""The example application built on pgbe: the database guide's domain."""
