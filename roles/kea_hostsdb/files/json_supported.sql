-- Kea 2.2's schema (13) reads get_session_value('json_supported') but stores 'kea.json_supported', so the
-- answer is never remembered: every insert, update and delete of a lease runs the check again in its
-- trigger (an error raised and caught in a subtransaction, then a pg_proc scan). The same function,
-- reading the name it stores.
CREATE OR REPLACE FUNCTION isJsonSupported()
RETURNS BOOLEAN
AS $$
BEGIN
    IF get_session_value('kea.json_supported') IS NULL THEN
        IF (SELECT proname FROM pg_proc WHERE proname = 'json_extract_path') = 'json_extract_path' THEN
            PERFORM set_session_value('kea.json_supported', true);
        ELSE
            PERFORM set_session_value('kea.json_supported', false);
        END IF;
    END IF;
    RETURN get_session_value('kea.json_supported');
END
$$ LANGUAGE plpgsql;
