#!/bin/sh
# ESE alerts end to end (docs/ese.md, Alerts): real forced photometry,
# normalisation, variability and ESE fits on a deterministic series of
# synthetic images (tests/integration/alertsim.c calls phot_process_epoch and
# alert_emit_epoch, the photometry stage's two calls), with a Gaussian-lens dip
# on source "ESE1 J0834+55<&>" centred on epoch 45 and a flare decoy.
#   - while the dip is under way: exactly one alert (ongoing), one VOEvent
#     file, which xmllint accepts and Python's xml.etree reads (ivorn, role,
#     Who, What with its Params, WhereWhen, How, Why);
#   - re-running an epoch and restarting make no second alert;
#   - once the dip is complete: one candidate alert citing the ongoing one;
#   - an alert a crash left unsent is sent by the next epoch, not duplicated;
#   - contimgctl alerts [--json] [--since]; candidates --json vetting keys.
. "$(dirname "$0")/lib.sh"
SIM=${CONTIMG_BUILD:-$ROOT/build}/tests/integration/alertsim
if [ ! -x "$SIM" ]; then
	fail "alertsim not built ($SIM: make unit builds it)"
	exit 0
fi
mkdir -p "$T/state" "$T/products" "$T/in"
cat >"$T/contimg.conf" <<CONF
[paths]
state_dir = $T/state
products_dir = $T/products
ingest_dir = $T/in

[alerts]
role = test
ivorn_base = ivo://dsa110.caltech/contimg-test
CONF
CTL="$BIN/contimgctl --config $T/contimg.conf"
DB=$T/state/contimg.sqlite
A=$T/products/alerts
q() { sqlite3 "$DB" "$1"; }
nfiles() { ls "$A" 2>/dev/null | grep -c '\.xml$'; }

# --- the dip under way: epochs 0..45 (the fit sees the ingress from ~epoch 40) ---
check "epochs 0-45 processed" sh -c "'$SIM' '$T/contimg.conf' 0 46 >'$T/run1.txt' 2>'$T/run1.err'"
tail -6 "$T/run1.txt" | sed 's/^/# /'
check "exactly one alert row" test "$(q 'SELECT count(*) FROM alerts')" = 1
check "it is an ongoing alert of ESE1" \
	test "$(q "SELECT kind || '|' || source || '|' || ongoing FROM alerts")" = "ongoing|ESE1 J0834+55<&>|1"
check "exactly one VOEvent file" test "$(nfiles)" = 1
X=$(ls "$A"/*.xml 2>/dev/null | head -1)
check "the file is the row's, and the row is sent" \
	test "$(q 'SELECT path FROM alerts WHERE sent_at IS NOT NULL')" = "$X"
check "xmllint --noout accepts it" xmllint --noout "$X"
check "the alert was logged with the MESSAGE_ID" grep -q 'ESE alert (ongoing).*MESSAGE_ID=2217b4511e3a4f2eaac60f3ed632d563' "$T/run1.err"
SCORE=$(q "SELECT score FROM alerts")
RA=$(q "SELECT ra_deg FROM alerts")
IVORN=$(q "SELECT ivorn FROM alerts")
cat >"$T/parse.py" <<'PY'
import sys, math, datetime
import xml.etree.ElementTree as ET
path, ivorn, score, ra, kind = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
NS = "{http://www.ivoa.net/xml/VOEvent/v2.0}"
root = ET.parse(path).getroot()
errs = []
def need(c, what):
    if not c:
        errs.append(what)
need(root.tag == NS + "VOEvent", "root is voe:VOEvent (%s)" % root.tag)
need(root.get("version") == "2.0", "version 2.0")
need(root.get("role") == "test", "role test")
need(root.get("ivorn") == ivorn, "ivorn %s == %s" % (root.get("ivorn"), ivorn))
need(root.get("ivorn", "").startswith("ivo://dsa110.caltech/contimg-test#"), "ivorn base")
for tag in ("Who", "What", "WhereWhen", "How", "Why"):
    need(root.find(tag) is not None, tag)
need(root.findtext("Who/AuthorIVORN") == "ivo://dsa110.caltech/contimg-test", "AuthorIVORN")
datetime.datetime.strptime(root.findtext("Who/Date"), "%Y-%m-%dT%H:%M:%S")
params = {p.get("name"): p for p in root.iter("Param")}
for name in ("source", "kind", "ongoing", "score", "depth", "duration", "t0_mjd", "flux", "f0",
             "best_alternative", "dbic", "alt_evidence", "n_event", "s_evid", "pb"):
    need(name in params, "Param " + name)
if not errs:
    need(params["source"].get("value") == "ESE1 J0834+55<&>", "source name round trip")
    need(params["kind"].get("value") == kind, "kind " + kind)
    need(abs(float(params["score"].get("value")) - score) < 1e-8, "score = the row's")
    need(params["score"].get("dataType") == "float", "score dataType")
    need(params["duration"].get("unit") == "d", "duration unit")
    need(params["ongoing"].get("value") == ("1" if kind == "ongoing" else "0"), "ongoing flag")
    need(0.05 < float(params["depth"].get("value")) < 0.6, "depth plausible")
groups = [g.get("name") for g in root.iter("Group")]
need("score_terms" in groups and "vetting" in groups, "Groups score_terms, vetting")
ol = root.find("WhereWhen/ObsDataLocation/ObservationLocation")
need(ol is not None and ol.find("AstroCoordSystem").get("id") == "UTC-ICRS-TOPO", "AstroCoordSystem")
p2 = ol.find("AstroCoords/Position2D") if ol is not None else None
need(p2 is not None and p2.get("unit") == "deg", "Position2D deg")
if p2 is not None:
    need(abs(float(p2.findtext("Value2/C1")) - ra) < 1e-6, "C1 = RA")
    need(-90 <= float(p2.findtext("Value2/C2")) <= 90, "C2 is a Dec")
    float(p2.findtext("Error2Radius"))
iso = ol.findtext("AstroCoords/Time/TimeInstant/ISOTime") if ol is not None else None
need(iso and datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%f"), "ISOTime")
why = root.find("Why")
need(why is not None and abs(float(why.get("importance")) - score) < 1e-4, "Why importance")
need(root.findtext("Why/Inference/Concept"), "Why/Inference/Concept")
need(root.findtext("Why/Inference/Name") == "ESE1 J0834+55<&>", "Why/Inference/Name")
need(root.findtext("How/Description"), "How/Description")
if kind == "candidate":
    need(root.find("Citations/EventIVORN") is not None and
         root.find("Citations/EventIVORN").get("cite") == "followup", "Citations followup")
if errs:
    print("missing or wrong: " + "; ".join(errs))
    sys.exit(1)
print("%d Params, %d Groups" % (len(params), len(groups)))
PY
check "xml.etree finds ivorn, role, Who, What (Params), WhereWhen, How, Why" \
	/usr/bin/python3 "$T/parse.py" "$X" "$IVORN" "$SCORE" "$RA" ongoing
sed 's/^/# /' "$T/.last"

# --- re-running the same epoch, and restarting (a new process), make nothing new ---
cp "$X" "$T/first.xml"
check "re-run of epoch 45" sh -c "'$SIM' '$T/contimg.conf' 45 46 >/dev/null 2>&1"
check "re-run of epochs 42-45 in a new process" sh -c "'$SIM' '$T/contimg.conf' 42 46 >/dev/null 2>&1"
check "still one alert row" test "$(q 'SELECT count(*) FROM alerts')" = 1
check "still one file, unchanged" sh -c "test $(nfiles) = 1 && cmp -s '$X' '$T/first.xml'"

# --- the dip complete: one candidate alert that cites the ongoing one ---
check "epochs 46-59 processed" sh -c "'$SIM' '$T/contimg.conf' 46 60 >'$T/run2.txt' 2>'$T/run2.err'"
tail -3 "$T/run2.txt" | sed 's/^/# /'
check "two alert rows: ongoing then candidate" \
	test "$(q "SELECT group_concat(kind, ',') FROM (SELECT kind FROM alerts ORDER BY id)")" = "ongoing,candidate"
check "the candidate alert cites the ongoing one" \
	test "$(q "SELECT cites FROM alerts WHERE kind = 'candidate'")" = "$IVORN"
check "no alert for the flare decoy or any other source" \
	test "$(q "SELECT count(*) FROM alerts WHERE source != 'ESE1 J0834+55<&>'")" = 0
check "two VOEvent files" test "$(nfiles)" = 2
X2=$(q "SELECT path FROM alerts WHERE kind = 'candidate'")
check "xmllint --noout accepts the candidate alert" xmllint --noout "$X2"
check "xml.etree reads the candidate alert, with its Citations" \
	/usr/bin/python3 "$T/parse.py" "$X2" "$(q "SELECT ivorn FROM alerts WHERE kind = 'candidate'")" \
	"$(q "SELECT score FROM alerts WHERE kind = 'candidate'")" "$RA" candidate
check "re-run of epochs 55-59" sh -c "'$SIM' '$T/contimg.conf' 55 60 >/dev/null 2>&1"
check "still two alert rows and two files" \
	sh -c "test $(q 'SELECT count(*) FROM alerts') = 2 && test \$(ls '$A' | grep -c 'xml\$') = 2"

# --- a crash between the row and the file: the next epoch sends it, once ---
q "UPDATE alerts SET sent_at = NULL WHERE kind = 'candidate'"
rm -f "$X2"
check "epoch 60 processed" sh -c "'$SIM' '$T/contimg.conf' 60 61 >/dev/null 2>'$T/run3.err'"
check "the unsent alert's file is written again" xmllint --noout "$X2"
check "and marked sent, with no new row" \
	test "$(q 'SELECT count(*) FROM alerts WHERE sent_at IS NOT NULL')" = 2

# --- contimgctl alerts ---
$CTL alerts --json >"$T/a.json" 2>&1
check "alerts --json lists both" \
	/usr/bin/python3 -c "import json,sys; a=json.load(open(sys.argv[1])); sys.exit(not (len(a)==2 and [x['kind'] for x in a]==['ongoing','candidate']))" "$T/a.json"
for k in id ivorn source kind ongoing score depth duration_days t0_mjd event_start_mjd mjd \
	group_id ra_deg dec_deg flux_jy best_alt dbic alt_evidence cites voevent created_at sent; do
	check "alerts --json has key $k" grep -q "\"$k\":" "$T/a.json"
done
check "the text listing names both kinds" sh -c "$CTL alerts | grep -q ongoing && $CTL alerts | grep -q candidate"
q "UPDATE alerts SET created_at = created_at - 10 * 86400 WHERE kind = 'ongoing'"
check "--since 5 (days) keeps only the recent alert" \
	sh -c "$CTL alerts --since 5 --json | /usr/bin/python3 -c \"import json,sys; a=json.load(sys.stdin); sys.exit(not (len(a)==1 and a[0]['kind']=='candidate'))\""
check "--since 2000-01-01 keeps both" \
	sh -c "$CTL alerts --since 2000-01-01 --json | /usr/bin/python3 -c \"import json,sys; sys.exit(len(json.load(sys.stdin)) != 2)\""
check "--since 2099-01-01T00:00:00Z keeps none" \
	sh -c "$CTL alerts --since 2099-01-01T00:00:00Z --json | /usr/bin/python3 -c \"import json,sys; sys.exit(len(json.load(sys.stdin)) != 0)\""
check "a malformed --since is bad usage (2)" sh -c "$CTL alerts --since yesterday >/dev/null 2>&1; test \$? = 2"

# --- candidates: what the fit knows and the vetting context ---
$CTL candidates --json >"$T/c.json" 2>&1
cat >"$T/cand.py" <<'PY'
import json, sys
c = {x["source"]: x for x in json.load(open(sys.argv[1]))}
e = c.get("ESE1 J0834+55<&>")
errs = []
if e is None:
    print("ESE1 is not a candidate"); sys.exit(1)
for k in ("source", "score", "status", "n", "chi2_nu", "eta", "v", "amplitude", "timescale_days",
          "asymmetry", "t0_mjd", "note", "ongoing", "depth", "duration_days", "best_alternative",
          "epochs", "score_terms", "pb", "catalog", "bright_neighbour", "subband",
          "first_crossed_mjd", "first_crossed_at_unix", "last_mjd"):
    if k not in e:
        errs.append("key " + k)
if not errs:
    if e["ongoing"] is not False: errs.append("complete now: ongoing false")
    if e["subband"] is not None: errs.append("subband null until sub-band fluxes exist")
    if not e["best_alternative"]["model"]: errs.append("best alternative named")
    if not e["epochs"]["inside"] >= 4: errs.append("epochs inside the event %s" % e["epochs"])
    if abs(e["pb"] - 1) > 1e-9: errs.append("pb 1 (no beam in the synthetic image)")
    if e["catalog"]["resolved"] is not False: errs.append("catalog flag")
    b = e["bright_neighbour"]
    if not b or b["flux_mjy"] < 1000 or not (0 < b["sep_deg"] < 0.5): errs.append("bright neighbour %s" % b)
    if not (61038 <= e["first_crossed_mjd"] <= 61046): errs.append("first crossing %s" % e["first_crossed_mjd"])
    if e["last_mjd"] != 61060: errs.append("last_mjd %s" % e["last_mjd"])
if errs:
    print("; ".join(errs)); sys.exit(1)
print("best alternative %s (dBIC %.1f), %d epochs inside, bright neighbour %s at %.3f deg" %
      (e["best_alternative"]["model"], e["best_alternative"]["dbic"], e["epochs"]["inside"],
       e["bright_neighbour"]["source"], e["bright_neighbour"]["sep_deg"]))
PY
check "candidates --json: the fit's details and the vetting context" /usr/bin/python3 "$T/cand.py" "$T/c.json"
sed 's/^/# /' "$T/.last"
check "the candidates table shows the best alternative" \
	sh -c "$CTL candidates | grep 'ESE1' | grep -Eq 'constant|line|step|outlier|dropout|fred|flare|sinusoid'"

# --- [alerts] refused when malformed ---
printf '[alerts]\nrole = alert\n' >"$T/bad.conf"
check "[alerts] role = alert is refused (2)" sh -c "$BIN/contimgctl --config '$T/bad.conf' config check >/dev/null 2>&1; test \$? = 2"
printf '[alerts]\nivorn_base = http://example.org/x\n' >"$T/bad2.conf"
check "[alerts] ivorn_base without ivo:// is refused (2)" sh -c "$BIN/contimgctl --config '$T/bad2.conf' config check >/dev/null 2>&1; test \$? = 2"
