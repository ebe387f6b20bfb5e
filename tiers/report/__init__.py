"""Reports on evaluations: terminal tables for `diff` and `backtest`, and the HTML report."""
