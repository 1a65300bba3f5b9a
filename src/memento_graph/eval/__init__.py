"""The evaluation harness behind `memento eval`: data sets, scores, CIs, reports, the schedule."""
