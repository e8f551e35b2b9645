"""Tasks the fault notebook (05) uses: each records its runs in a ledger."""
