-- The thresholds of a team's "consistent success" signal (issue 24; Sitkin 1992). A team without
-- a row uses the defaults of `domain::success::SuccessSettings::default`.

CREATE TABLE team_success_settings (
    team_id TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    -- How many quarters (of 13 weeks, back from today) of concluded experiments are read.
    quarters INTEGER NOT NULL,
    -- Weeks without a logged failure, while the team shipped, before the signal shows.
    quiet_weeks INTEGER NOT NULL,
    -- The window, in weeks, whose loops are read for "all basic", and how many it needs.
    basic_weeks INTEGER NOT NULL,
    basic_min_loops INTEGER NOT NULL
) WITHOUT ROWID;
