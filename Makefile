# netboot.fleet: two commands on a fresh Debian 12 machine (as root):
#   make bringup   set everything up and run playbooks/bringup.yml on the embedded default
#   make test      set everything up and run every test
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
STATE ?= /var/tmp/netboot-fleet
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# ansible-test needs the collection at a real ansible_collections/<namespace>/<name> path.
SANITY_ROOT := $(STATE)/sanity/ansible_collections/netboot/fleet

.PHONY: setup bringup lab-up lab-down test lint sanity unit integration molecule e2e
# The embedded lab (lab/netboot_lab.py): rack switch, two DHCP node containers, one VM + BMC per machine.
LAB_PREFIX ?= nbl

setup:
	@NETBOOT_FLEET_VENV=$(VENV) NETBOOT_FLEET_STATE=$(STATE) bash scripts/setup.sh

bringup: lab-up
	ansible-playbook -i inventory/ playbooks/bringup.yml

lab-up: setup
	python lab/netboot_lab.py up --sot inventory/sot --prefix $(LAB_PREFIX)

lab-down:
	python lab/netboot_lab.py down --prefix $(LAB_PREFIX)

test: setup lint sanity unit integration molecule e2e

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
	python -m pytest -q -n 2 --dist loadfile tests/integration

molecule:
	bash scripts/molecule.sh

e2e:
	python -m pytest -q -s tests/e2e
