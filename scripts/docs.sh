#!/usr/bin/env bash
# The collection's documentation site:
#   scripts/docs.sh lint    antsibull-docs lint-collection-docs: plugin docs, role argument specs and
#                           docs/docsite/ (links.yml, extra-docs.yml, rst/); any error fails
#   scripts/docs.sh build   the HTML site in build/docs/html:
#   1. antsibull-docs sphinx-init: a fresh Sphinx site skeleton in build/docs/site;
#   2. antsibull-docs collection: the plugin/role pages and the guides in docs/docsite/rst;
#   3. the README and docs/*.md (e.g. docs/architecture.md, when present) as pages, through myst-parser;
#   4. sphinx-build -W: any warning fails the build.
# Runs offline: no intersphinx inventories are fetched.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
# antsibull-docs finds the collection through ansible-doc: the checkout's collections path.
export ANSIBLE_CONFIG=$REPO/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$REPO/collections

# lint-collection-docs wants the real ansible_collections/<namespace>/<name> path, not a symlink.
ACROOT=$(readlink -f collections/ansible_collections/netboot/fleet)
[ "$ACROOT" = "$REPO" ] || { echo "collections/ansible_collections/netboot/fleet must link to $REPO" >&2; exit 1; }
if [ "${1:-}" = lint ]; then
  lint_root=$(mktemp -d)
  trap 'rm -rf "$lint_root"' EXIT
  mkdir -p "$lint_root/ansible_collections/netboot"
  git ls-files -co --exclude-standard | grep -v -e '^collections/' -e '^\.venv/' |
    rsync -a --files-from=- ./ "$lint_root/ansible_collections/netboot/fleet/"
  (cd "$lint_root/ansible_collections/netboot/fleet" &&
    antsibull-docs lint-collection-docs --plugin-docs --no-skip-rstcheck --check-extra-docs-refs \
      --validate-collection-refs=self .)
  echo "docs: lint-collection-docs clean"
  exit 0
fi
[ "${1:-}" = build ] || { echo "usage: $0 lint|build" >&2; exit 2; }

SITE=$REPO/build/docs/site
OUT=$REPO/build/docs/html
rm -rf "$SITE" "$OUT"
mkdir -p "$SITE"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$SITE" \
  --project netboot.fleet --title "netboot.fleet" --copyright "netboot.fleet developers" \
  --no-add-antsibull-docs-version netboot.fleet >/dev/null
# Offline: no intersphinx inventories; Markdown pages through myst-parser.
cat >>"$SITE/conf.py" <<'EOF'

# Added by scripts/docs.sh: built offline (no intersphinx), Markdown pages through myst-parser.
intersphinx_mapping = {}
extensions.append('myst_parser')
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_heading_anchors = 3
# Links in the Markdown pages to files of the repository (lab/README.md, ...) are not pages here.
suppress_warnings = ['myst.xref_missing', 'myst.header']


def _ansible_docs_reference_as_text(app, env, node, contnode):
    """Without intersphinx, references into Ansible's own docs (common_return_values, ansible.builtin
    plugins, ANSIBLE_* variables) cannot resolve: show their text. References to this collection's
    own pages still fail the build when they are broken."""
    target = node.get('reftarget', '')
    if node.get('reftype') in ('ref', 'envvar') and not target.startswith('ansible_collections.netboot.fleet'):
        return contnode
    return None


def setup(app):
    app.connect('missing-reference', _ansible_docs_reference_as_text)
EOF

mkdir -p "$SITE/rst"
chmod og-w "$SITE/rst"
antsibull-docs --config-file "$SITE/antsibull-docs.cfg" collection --cleanup everything --fail-on-error \
  --use-current --dest-dir "$SITE/rst" netboot.fleet >/dev/null

# The project's own pages, converted at build time: the README and every docs/*.md.
pages=(readme)
cp README.md "$SITE/rst/readme.md"
for md in docs/*.md; do
  [ -e "$md" ] || continue
  name=$(basename "$md" .md | tr '[:upper:]' '[:lower:]')
  cp "$md" "$SITE/rst/$name.md"
  pages+=("$name")
done
{
  printf '.. _docsite_root_index:\n\nnetboot.fleet\n=============\n\n'
  printf 'Bring up bare-metal fleets: anycast ISC Kea DHCP rendered from a source of truth, PXE/iPXE assets,\n'
  printf 'BIRD2 anycast announcement and IPMI/Redfish power control.\n\n'
  printf '.. toctree::\n   :maxdepth: 1\n   :caption: Project:\n\n'
  printf '   %s\n' "${pages[@]}"
  printf '   collections/netboot/fleet/docsite/guide_first_rack\n\n'
  printf '.. toctree::\n   :maxdepth: 2\n   :caption: Collection:\n\n   collections/index\n\n'
  printf '.. toctree::\n   :maxdepth: 1\n   :caption: Plugin indexes:\n   :glob:\n\n   collections/index_*\n\n'
  printf '.. toctree::\n   :maxdepth: 1\n   :caption: Reference indexes:\n\n   collections/environment_variables\n'
} >"$SITE/rst/index.rst"

sphinx-build -q -b html "$SITE/rst" "$OUT" -c "$SITE" -W --keep-going
echo "docs: built $OUT/index.html (pages: ${pages[*]}, guide_first_rack, plugin and role pages)"
