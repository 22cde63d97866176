-- Invitations are bound to the address they were sent to. Open invitations without an address
-- could be accepted by anyone holding the link: they are withdrawn (their inviters can send new
-- ones from the members or people page).
UPDATE invitations SET revoked_at = CAST(strftime('%s', 'now') AS INTEGER)
WHERE email IS NULL AND accepted_at IS NULL AND revoked_at IS NULL;
