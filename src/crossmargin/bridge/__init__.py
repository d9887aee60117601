"""Exchange accounts brought in through ccxt as portfolio documents, and our figures reconciled with the
venue's (docs/import.md)."""
