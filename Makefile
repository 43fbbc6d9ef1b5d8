# netboot.fleet: two commands on a fresh Debian 12 machine (as root):
#   make bringup   set everything up and run playbooks/bringup.yml on the embedded default
#                  (NETBOOT_DHCP_DATABASE=postgresql: in the database mode, with the lab's PostgreSQL primary + standby)
#   make test      set everything up and run every test
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
STATE ?= /var/tmp/netboot-fleet
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# ansible-test needs the collection at a real ansible_collections/<namespace>/<name> path.
SANITY_ROOT := $(STATE)/sanity/ansible_collections/netboot/fleet

.PHONY: setup bringup lab-up lab-down test test-lab test-checks lint sanity unit integration molecule e2e
.PHONY: build docs docs-lint changelog release install-test ee-create ee versions
# The embedded lab (lab/netboot_lab.py): rack switch, two DHCP node containers, one VM + BMC per machine.
LAB_PREFIX ?= nbl
# The lab's DHCP database mode (README "Leases and reservations"): none (JSON reservations, memfile leases), or
# postgresql (reservations and shared leases in a PostgreSQL primary + synchronous standby the lab builds; its
# inventory, <state>/lab-<prefix>/database.yml, is added to inventory/).
NETBOOT_DHCP_DATABASE ?= none
LAB_INVENTORY := -i inventory/ $(if $(filter postgresql,$(NETBOOT_DHCP_DATABASE)),-i $(STATE)/lab-$(LAB_PREFIX)/database.yml)

setup:
	@NETBOOT_FLEET_VENV=$(VENV) NETBOOT_FLEET_STATE=$(STATE) bash scripts/setup.sh

# The lab's machine states and callback key live with the lab: lab-down wipes them with the VMs' disks.
bringup: lab-up
	ansible-playbook $(LAB_INVENTORY) playbooks/bringup.yml -e netboot_state_dir=$(STATE)/lab-$(LAB_PREFIX)/controller
	@echo "The lab's DHCP node metrics (URLs above) are reached through its rack switch:" \
	  "ip netns exec $(LAB_PREFIX)-tor curl -s <url>"

lab-up: setup
	python lab/netboot_lab.py up --sot inventory/sot --prefix $(LAB_PREFIX) --database $(NETBOOT_DHCP_DATABASE)

lab-down:
	python lab/netboot_lab.py down --prefix $(LAB_PREFIX) --wipe-disks

# After setup, the e2e lab (VMs that spend much of their time waiting on their guests; it is proven at high load)
# runs beside the checks that only compute; each line of output is prefixed with its lane, and make stops both at
# the first failure. The suites that measure timing (BFD, drains, failover: integration, Molecule) run after,
# alone, so that no other job's CPU load makes them flap.
test: setup
	$(MAKE) -j2 test-lab test-checks
	$(MAKE) integration molecule

test-lab:
	set -o pipefail; $(MAKE) e2e 2>&1 | sed -u 's/^/[e2e] /'

test-checks:
	set -o pipefail; $(MAKE) -j1 lint sanity unit install-test versions docs-lint ee 2>&1 | sed -u 's/^/[checks] /'

lint:
	ansible-lint --offline --profile production

sanity:
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	git ls-files -co --exclude-standard | grep -v '^collections/' | rsync -a --files-from=- ./ $(SANITY_ROOT)/
	# plugins/connection imports containers.podman: ansible-test looks for it beside the collection.
	ln -sfn "$$(python -c 'import ansible_collections.containers.podman as c; print(list(c.__path__)[0])')/.." \
	  $(SANITY_ROOT)/../../containers
	mkdir -p ~/.ansible/test/cache && cp scripts/get_pip_offline.py ~/.ansible/test/cache/get_pip_24_2.py
	cd $(SANITY_ROOT) && ansible-test sanity --python 3.11 --color no

unit:
	python -m pytest -q -n 2 tests/unit

# loadfile: a test module builds its lab (namespaces, BMC ports) once, in one worker.
integration:
	python -m pytest -q -n 2 --dist loadfile --durations=15 tests/integration

molecule:
	bash scripts/molecule.sh

e2e:
	python -m pytest -q -s --durations=0 tests/e2e

# Packaging and release: the tarball, the docs site and the changelog (README: "Install from a tarball or an EE").
DIST := $(CURDIR)/build
VERSION = $(shell sed -n 's/^version: *//p' galaxy.yml)

build:
	rm -f $(DIST)/netboot-fleet-*.tar.gz
	ansible-galaxy collection build --force --output-path $(DIST) .

docs:
	bash scripts/docs.sh build

docs-lint:
	bash scripts/docs.sh lint

# The fragments become the release of galaxy.yml's version (once); CHANGELOG.rst is regenerated.
changelog:
	antsibull-changelog lint
	if grep -q "^  $(VERSION):" changelogs/changelog.yaml; then antsibull-changelog generate; \
	else antsibull-changelog release --version $(VERSION); fi

release: setup changelog build docs
	@ls -l $(DIST)/netboot-fleet-$(VERSION).tar.gz && echo "docs: $(DIST)/docs/html/index.html"

# The tarball installed into an empty collections path, run from a venv of the declared runtime deps only.
install-test:
	NETBOOT_FLEET_STATE=$(STATE) python -m pytest -q -p no:cacheprovider tests/install

# Execution environment (scripts/ee.sh): ee-create writes the ansible-builder context; ee also builds the
# base (debootstrap) and EE images, cached by their inputs, and runs bringup.yml --tags validate in it.
ee-create:
	NBF_WORK=$(STATE) DEV_PYTHON=$(VENV)/bin/python bash scripts/ee.sh create

ee:
	NBF_WORK=$(STATE) DEV_PYTHON=$(VENV)/bin/python bash scripts/ee.sh build

# The lowest ansible-core meta/runtime.yml declares: sanity, unit and the install test (scripts/versions.sh).
versions:
	NETBOOT_FLEET_STATE=$(STATE) DEV_PYTHON=$(VENV)/bin/python bash scripts/versions.sh
