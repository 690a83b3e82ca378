//! Tests of the tester: input parsing, scores and backtest diffs.
