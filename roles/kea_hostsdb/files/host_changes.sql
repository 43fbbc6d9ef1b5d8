-- A counter of changes to Kea's host tables, bumped in the writing transaction by every statement that
-- changes them, whoever runs it. netboot.fleet.kea_hosts reads this one row instead of scanning every
-- row to know whether the tables are still as its last sync left them.
CREATE TABLE IF NOT EXISTS netboot_fleet_host_changes (changes bigint NOT NULL);
INSERT INTO netboot_fleet_host_changes (changes)
    SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM netboot_fleet_host_changes);

-- SECURITY DEFINER: writers (the sync user, an admin) need no right on the counter itself.
CREATE OR REPLACE FUNCTION netboot_fleet_count_host_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    UPDATE netboot_fleet_host_changes SET changes = changes + 1;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER netboot_fleet_host_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hosts
    FOR EACH STATEMENT EXECUTE FUNCTION netboot_fleet_count_host_change();
CREATE OR REPLACE TRIGGER netboot_fleet_host_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ipv6_reservations
    FOR EACH STATEMENT EXECUTE FUNCTION netboot_fleet_count_host_change();
CREATE OR REPLACE TRIGGER netboot_fleet_host_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dhcp4_options
    FOR EACH STATEMENT EXECUTE FUNCTION netboot_fleet_count_host_change();
CREATE OR REPLACE TRIGGER netboot_fleet_host_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dhcp6_options
    FOR EACH STATEMENT EXECUTE FUNCTION netboot_fleet_count_host_change();
