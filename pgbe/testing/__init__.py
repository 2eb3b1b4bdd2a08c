"""Test helpers for pgbe projects: throwaway databases, rolled-back sessions, statement counting."""
