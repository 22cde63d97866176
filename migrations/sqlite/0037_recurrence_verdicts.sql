-- Confirmed and dismissed possible-recurrence flags (issue 25): labelled pairs the calibration
-- can use. No person is stored: a team gives the verdict (an anonymous loop's teammates label it
-- like any other), and only the day. A dismissed pair is never flagged again.

CREATE TABLE recurrence_verdicts (
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    earlier_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    -- 'confirmed' or 'dismissed'.
    verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'dismissed')),
    -- Midnight UTC of the day it was given.
    given_on INTEGER NOT NULL,
    PRIMARY KEY (loop_id, earlier_id)
) WITHOUT ROWID;

CREATE INDEX recurrence_verdicts_team ON recurrence_verdicts (team_id);
