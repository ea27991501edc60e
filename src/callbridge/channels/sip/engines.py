"""Kamailio and rtpengine, as Callbridge runs them: configuration generated under `<data_dir>/voice/`, each
started as a child process, watched, and stopped by its PID.

Kamailio is the SIP edge: the registrar of desk phones (digest, HA1 credentials pushed into an `htable` over
its JSON-RPC socket: no password is ever written to its configuration), and the door of the carrier trunk
(only its source addresses may start a call: 403 for anyone else, so it is not an open relay). Every call it
lets in goes to the voice controller; the controller's calls to desk phones are the only ones it routes to a
registered phone. rtpengine carries the media (userspace forwarding, `--table=-1`: no kernel module).
"""

from __future__ import annotations

import contextlib
import glob
import ipaddress
import logging
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from callbridge.channels.sip.webrtc import INTERACTION_HEADER

log = logging.getLogger(__name__)

KAMAILIO = "/usr/sbin/kamailio"
RTPENGINE = "/usr/bin/rtpengine"
INSTALL_HINT = (
    "voice needs Debian's packages kamailio, kamailio-websocket-modules, kamailio-autheph-modules and "
    "rtpengine-daemon: as root run `apt-get update && apt-get install -y kamailio kamailio-websocket-modules "
    "kamailio-autheph-modules rtpengine-daemon` (or scripts/install-voice-engines)"
)


class EngineError(Exception):
    """An engine is missing, would not start, or died."""


@dataclass(frozen=True, slots=True)
class EngineLayout:
    """Where the engines listen, as the voice settings say."""

    sip_address: str
    sip_port: int
    controller_address: str
    controller_port: int
    ng_address: str
    ng_port: int
    rtp_address: str
    rtp_port_min: int
    rtp_port_max: int
    realm: str
    trunk_networks: tuple[str, ...]
    rpc_socket: Path
    trunk_address: tuple[str, int] | None = None  # where calls Callbridge places go (the carrier)
    trunk_tls: bool = False  # those calls go over TLS (needs tls_config), else over UDP
    # the CAs the carrier's TLS certificate must chain to; None: not checked (CALLBRIDGE_VOICE_TRUNK_VERIFY=false)
    trunk_ca_file: Path | None = None
    ws_address: str = "127.0.0.1"
    ws_port: int = 0  # SIP over WebSocket for browsers (the console's softphone); 0: none
    # (certificate, key) in PEM for Kamailio's tls module: the WebSocket port serves WSS instead of plain WS, and
    # sip_tls_port (if set) SIP over TLS; both serve this one certificate
    tls: tuple[Path, Path] | None = None
    sip_tls_port: int = 0  # SIP over TLS on sip_address for desk phones and the trunk (needs `tls`); 0: none
    # the tls module's own configuration file (tls_config), which `tls.reload` reads again: written beside the script
    tls_config: Path | None = None
    # the pages that may open that WebSocket (Callbridge's own origin: the console); any other Origin gets 403
    ws_allowed_origins: tuple[str, ...] = ()
    softphone_ttl_seconds: int = 600  # how long a softphone credential lives (revocations are kept that long)
    recording_dir: Path | None = None  # rtpengine's pcap recordings (recording.py turns them into WAVs)
    dtmf_port: int = 0  # where rtpengine sends the DTMF keys it hears, on controller_address (menu.py); 0: nowhere
    # voice on several nodes: every node's controller, which the dispatcher spreads new calls over; empty: only
    # controller_address:controller_port (no dispatcher)
    controllers: tuple[tuple[str, int], ...] = ()
    dispatcher_list: Path | None = None  # the dispatcher's list file (dispatcher_list), written beside the script


def kamailio_modules_dir() -> str:
    found = sorted(glob.glob("/usr/lib/*/kamailio/modules")) + sorted(glob.glob("/usr/lib/kamailio/modules"))
    if not found:
        raise EngineError(INSTALL_HINT)
    return found[0]


def _trunk_condition(networks: tuple[str, ...]) -> str:
    tests = []
    for network in networks:
        parsed = ipaddress.ip_network(network, strict=False)
        tests.append(f'is_in_subnet("$si", "{parsed.with_prefixlen}")')
    return " || ".join(tests) if tests else "0"


def _trunk_destination(address: tuple[str, int] | None) -> str:
    if address is None:
        return "0"
    host, port = address
    return f'$rd == "{ipaddress.ip_address(host)}" && $rp == {int(port)}'


# The reason Kamailio answers with when a call to a TLS trunk got no reply at all: no TLS connection (the
# carrier's certificate failed verification, or nothing answers at its port); outside.py says which to the agent.
TRUNK_TLS_FAILED = "No TLS connection to the carrier"
TRUNK_TLS_PROFILE = "callbridge-trunk"  # the tls module's client profile for the carrier (tls_config)


def _trunk_relay(layout: EngineLayout) -> str:
    """How TOTRUNK sends an INVITE on to the carrier: as addressed (UDP), or over TLS, with a failure route that
    names a missing TLS connection (tm itself would say 408, which reads as "no answer")."""
    if not layout.trunk_tls or layout.trunk_address is None:
        return ""
    host, port = layout.trunk_address
    return (
        f'        $du = "sip:{ipaddress.ip_address(host)}:{int(port)};transport=tls";\n'
        f'        $xavp(tls=>server_id) = "{TRUNK_TLS_PROFILE}";  # its client profile: the carrier\'s CAs\n'
        '        t_on_failure("TRUNK_TLS");\n'
    )


def _trunk_failure(layout: EngineLayout) -> str:
    if not layout.trunk_tls:
        return ""
    return f"""
failure_route[TRUNK_TLS] {{
    if (t_branch_timeout() && !t_branch_replied()) {{
        # its certificate failed verification (tls logs which), or nothing answers there
        xlog("L_WARN", "voice: no TLS connection to the carrier for $ru\\n");
        t_reply("503", "{TRUNK_TLS_FAILED}");
    }}
}}
"""


def _origin_condition(origins: tuple[str, ...]) -> str:
    """Kamailio's test that the handshake's Origin is one of `origins` (exactly, as browsers send it)."""
    tests = []
    for origin in origins:
        if not re.fullmatch(r"https?://[a-z0-9.\[\]:-]+", origin):
            raise ValueError(f"not an origin Kamailio can compare: {origin!r}")
        tests.append(f'$hdr(Origin) == "{origin}"')
    return " || ".join(tests) if tests else "0"


# How long Kamailio waits for a browser's first reply to an INVITE (tm's fr_timer, 5 s for everything else) before
# it answers 408 for it; over WebSocket nothing is lost on the way, so only a slow page takes this long.
BROWSER_REPLY_TIMEOUT_MS = 30_000
# Kamailio's dialog profile of the agents' legs, by interaction id (several nodes: the dispatcher's dialog module)
AGENT_LEG_PROFILE = "agentleg"


def _websocket_parts(layout: EngineLayout, secret: str) -> tuple[str, str, str, str]:
    """Listen lines, modules, the REGISTER branch and the routes (HTTP upgrade, browser registrar) for SIP over
    WebSocket (browsers), or nothing."""
    if not layout.ws_port:
        return "", "", "", ""
    listen = (
        f"listen={'tls' if layout.tls else 'tcp'}:{layout.ws_address}:{layout.ws_port}\n"
        f'alias="{layout.ws_address}:{layout.ws_port}"\n'
        "tcp_accept_no_cl=yes\n"
    )
    modules = (
        'loadmodule "xhttp.so"\n'
        'loadmodule "websocket.so"\n'
        'loadmodule "auth_ephemeral.so"\n'
        f'modparam("auth_ephemeral", "secret", "{secret or secrets.token_hex(32)}")\n'
        'modparam("websocket", "keepalive_mechanism", 1)\n'
        'modparam("websocket", "keepalive_interval", 30)\n'
        # user → the latest expiry a revoked credential of that user can carry (webrtc.py `Softphones.revoke`);
        # kept as long as such a credential could live
        f'modparam("htable", "htable", "softphone_revoked=>size=8;autoexpire={layout.softphone_ttl_seconds + 60};")\n'
    )
    routes = f"""
event_route[xhttp:request] {{
    if ($Rp == {layout.ws_port} && $hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm == "GET") {{
        # a browser attaches no credential to the handshake, but any page could open it: only Callbridge's
        if (!({_origin_condition(layout.ws_allowed_origins)})) {{
            xlog("L_WARN", "voice: WebSocket from $si:$sp refused (Origin '$hdr(Origin)' is not Callbridge's)\n");
            xhttp_reply("403", "Forbidden", "text/plain", "This page's origin may not use Callbridge's softphone\n");
            exit;
        }}
        if (ws_handle_handshake()) {{
            exit;
        }}
    }}
    xhttp_reply("404", "Not Found", "text/plain", "SIP over WebSocket only\\n");
}}

route[BROWSER] {{
    if (!is_present_hf("Authorization")) {{
        www_challenge("{layout.realm}", "0");
        exit;
    }}
    if (!autheph_www("{layout.realm}") || !autheph_check_to()) {{
        xlog("L_WARN", "voice: browser REGISTER $tu from $si:$sp refused (credentials '$au' wrong or expired)\\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    # revoked at sign-out (or when the agent was disabled): a credential expiring no later than the revocation's
    # mark was issued before it ($var keeps its value from one message to the next: set both every time)
    $var(expiry) = $(aU{{s.select,0,:}}{{s.int}});  # $aU: the whole user name, `<expiry>:<user>` ($au: <user>)
    $var(revoked) = 0;
    if ($sht(softphone_revoked=>$tU) != $null) {{
        $var(revoked) = $sht(softphone_revoked=>$tU);
    }}
    if ($var(expiry) <= $var(revoked)) {{
        xlog("L_WARN", "voice: browser REGISTER $tu from $si:$sp refused (credentials revoked at sign-out)\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    consume_credentials();
    force_rport();
    fix_nated_register();
    if (!save("location")) {{
        sl_reply_error();
    }}
    exit;
}}

"""
    register = "    if (proto == WS || proto == WSS) {\n        route(BROWSER);\n        exit;\n    }\n"
    return listen, modules, register, routes


def tls_config(layout: EngineLayout) -> str:
    """The tls module's configuration file: one server certificate for every TLS listener (WSS and SIP over TLS),
    no client certificate asked (browsers and most desk phones send none). Kept in a file, not in modparams,
    because `tls.reload` (a renewed certificate, without a restart) reads this file and the files it names again."""
    if layout.tls is None:
        return ""
    certificate, key = layout.tls
    text = (
        "# Generated by Callbridge (channels/sip/engines.py) at every start: edit the settings, not this file.\n"
        "[server:default]\n"
        "method = TLSv1.2+\n"
        f"certificate = {certificate.absolute()}\n"
        f"private_key = {key.absolute()}\n"
        "verify_certificate = no\n"
        "require_certificate = no\n"
        "\n"
    )
    text += "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
    if layout.trunk_tls and layout.trunk_address is not None:
        # the carrier: its certificate must chain to the configured CAs, or the connection (and the call) fails;
        # TOTRUNK picks this profile by its server_id (Kamailio 5.6 matches a client profile's address with the
        # connection's local one, not the carrier's)
        ca = layout.trunk_ca_file
        host = ipaddress.ip_address(layout.trunk_address[0])
        text += f"\n[client:any]\nserver_name = {host}\nserver_id = {TRUNK_TLS_PROFILE}\nmethod = TLSv1.2+\n" + (
            f"verify_certificate = yes\nrequire_certificate = yes\nca_list = {ca.absolute()}\n"
            if ca is not None
            else "verify_certificate = no\nrequire_certificate = no\n"
        )
    return text


def _tls_parts(layout: EngineLayout) -> tuple[str, str]:
    """Listen lines (SIP over TLS for desk phones and the trunk) and the tls module, or nothing."""
    if layout.tls is None or not (layout.ws_port or layout.sip_tls_port):
        return "", ""
    if layout.tls_config is None:
        raise ValueError("Kamailio's TLS needs its configuration file (tls_config)")
    listen = "enable_tls=yes\n"
    if layout.sip_tls_port:
        listen += (
            f"listen=tls:{layout.sip_address}:{layout.sip_tls_port}\n"
            f'alias="{layout.sip_address}:{layout.sip_tls_port}"\n'
        )
    modules = (
        f'loadmodule "tls.so"\nmodparam("tls", "config", "{layout.tls_config.absolute()}")\n'
        'modparam("tls", "xavp_cfg", "tls")\n'  # $xavp(tls=>server_id) picks a client profile (the carrier's)
    )
    return listen, modules


def dispatcher_list(layout: EngineLayout) -> str:
    """The dispatcher's set 1: every controller (`<set> <SIP URI> <flags> <priority>`)."""
    lines = ["# Generated by Callbridge (channels/sip/engines.py): the voice controllers of every node"]
    lines += [f"1 sip:{ipaddress.ip_address(host)}:{int(port)} 0 0" for host, port in layout.controllers]
    return "\n".join(lines) + "\n"


def _from_controller(layout: EngineLayout) -> str:
    controllers = layout.controllers or ((layout.controller_address, layout.controller_port),)
    return " || ".join(f'($si == "{ipaddress.ip_address(host)}" && $sp == {int(port)})' for host, port in controllers)


def _dispatcher_parts(layout: EngineLayout) -> tuple[str, str, str, str]:
    """Module lines, how a trunk's INVITE reaches a controller, the failure route, and what the controller's INVITE
    to an agent's phone adds: one controller, or (voice on several nodes) Kamailio's dispatcher over all of them:
    round robin over the live ones, each probed with OPTIONS every second; one that does not answer an INVITE
    within 2 s (the controller sends 100 Trying at once) is marked down and the call goes to the next."""
    if not layout.controllers:
        ctrl = f"sip:{layout.controller_address}:{layout.controller_port}"
        relay = f"""        $du = "{ctrl}";
        if (!t_relay()) {{
            sl_reply_error();
        }}"""
        return "", relay, "", ""
    if layout.dispatcher_list is None:
        raise ValueError("several controllers need the dispatcher's list file")
    modules = (
        'loadmodule "dispatcher.so"\n'
        f'modparam("dispatcher", "list_file", "{layout.dispatcher_list}")\n'
        'modparam("dispatcher", "flags", 2)\n'  # failover: the other destinations are kept for ds_next_dst
        'modparam("dispatcher", "ds_ping_method", "OPTIONS")\n'
        'modparam("dispatcher", "ds_ping_interval", 1)\n'
        'modparam("dispatcher", "ds_probing_mode", 1)\n'
        'modparam("dispatcher", "ds_probing_threshold", 1)\n'
        'modparam("dispatcher", "ds_inactive_threshold", 1)\n'
        'modparam("dispatcher", "ds_ping_reply_codes", "class=2")\n'
        f'modparam("dispatcher", "ds_ping_from", "sip:dispatcher@{layout.sip_address}")\n'
        # the callers' dialogs are tracked, so that a call whose controller died can still be ended: the holder
        # of its tenant asks for the BYE the controller cannot send any more (`dlg.end_dlg`, VoiceChannel)
        'loadmodule "dialog.so"\n'
        'modparam("dialog", "enable_stats", 0)\n'
        'modparam("dialog", "default_timeout", 86400)\n'
        f'modparam("dialog", "profiles_with_value", "{AGENT_LEG_PROFILE}")\n'
    )
    # the agent's leg too (the controller's INVITE to a desk phone or browser), in a profile keyed by the
    # interaction it carries (the controller's X-Callbridge-Interaction header): the holder finds it from the
    # interaction alone (`dlg.profile_list`), whichever node carried it and whatever Call-ID that node chose
    to_phone = f"""        dlg_manage();
        if (is_present_hf("{INTERACTION_HEADER}")) {{
            set_dlg_profile("{AGENT_LEG_PROFILE}", "$hdr({INTERACTION_HEADER})");
        }}
"""
    relay = """        dlg_manage();
        if (!ds_select_dst("1", "4")) {
            xlog("L_ERR", "voice: no voice controller is up: $rm from $si:$sp refused (503)\\n");
            sl_send_reply("503", "Service Unavailable");
            exit;
        }
        t_set_fr(0, 2000);
        t_on_failure("NEXTCONTROLLER");
        if (!t_relay()) {
            sl_reply_error();
        }"""
    failure = """
failure_route[NEXTCONTROLLER] {
    if (t_is_canceled()) {
        exit;
    }
    # no answer at all from the controller (it died, or its node is gone): the next live one takes the call
    if (t_branch_timeout() && !t_branch_replied()) {
        xlog("L_WARN", "voice: controller $du did not answer: marked down, trying the next\\n");
        ds_mark_dst("ip");
        if (ds_next_dst()) {
            t_set_fr(0, 2000);
            t_on_failure("NEXTCONTROLLER");
            t_relay();
        }
    }
}
"""
    return modules, relay, failure, to_phone


def kamailio_config(layout: EngineLayout, modules_dir: str, softphone_secret: str = "") -> str:
    """The whole routing script. Requests, in order: in-dialog ones follow their Route set; REGISTER is
    challenged (desk phones: realm, HA1 from the `phones` table; browsers over WebSocket: short-lived
    credentials checked by `auth_ephemeral` against the secret Callbridge hands it); the controller's INVITEs go
    to the registered phone or browser, or (a request URI that is not Kamailio's own) to the configured trunk
    address and nowhere else; a trunk address's INVITE goes to the controller; everything else is refused
    with 403.

    `softphone_secret` signs browsers' short-lived credentials (webrtc.py); made anew at each start, so the file
    is written for the owner only. (Kamailio 5.6's `autheph.add_secret` over JSON-RPC takes the secret but the
    SIP workers then refuse every credential made with it: it has to be in the configuration.)"""
    if layout.tls and not (Path(modules_dir) / "tls.so").exists():
        raise EngineError(
            "CALLBRIDGE_VOICE_WSS_CERT needs Kamailio's tls module: as root run `apt-get install -y "
            "kamailio-tls-modules` (or scripts/install-voice-engines)"
        )
    if layout.sip_tls_port and not layout.tls:
        raise ValueError("SIP over TLS needs a certificate and key")
    if layout.trunk_tls and layout.trunk_address and not layout.sip_tls_port:
        raise ValueError("calls to the carrier over TLS need Kamailio's SIP-over-TLS port (sip_tls_port)")
    ws_listen, ws_modules, ws_register, ws_routes = _websocket_parts(layout, softphone_secret)
    tls_listen, tls_modules = _tls_parts(layout)
    # connections over TCP (WebSocket, TLS) outlive the longest registration (registrar max_expires 3600)
    tcp_lifetime = "tcp_connection_lifetime=3605\n" if layout.ws_port or layout.sip_tls_port else ""
    ds_modules, to_controller, ds_failure, phone_dialog = _dispatcher_parts(layout)
    return f"""#!KAMAILIO
# Generated by Callbridge (channels/sip/engines.py) at every start: edit the settings, not this file.
debug=2
log_stderror=yes
log_prefix="{{$mt $hdr(CSeq) $ci}} "
memdbg=5
memlog=5
children=2
auto_aliases=no
listen=udp:{layout.sip_address}:{layout.sip_port}
alias="{layout.sip_address}:{layout.sip_port}"
{ws_listen}{tls_listen}{tcp_lifetime}rundir="{layout.rpc_socket.parent}"
server_header="Server: Callbridge"
user_agent_header="User-Agent: Callbridge"

mpath="{modules_dir}"
loadmodule "jsonrpcs.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"
loadmodule "htable.so"
loadmodule "ipops.so"
loadmodule "nathelper.so"
{tls_modules}{ws_modules}{ds_modules}
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{layout.rpc_socket}")
modparam("sanity", "autodrop", 0)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)
modparam("registrar", "max_expires", 3600)
modparam("usrloc", "db_mode", 0)
modparam("auth", "nonce_expire", 300)
modparam("htable", "htable", "phones=>size=10;")
modparam("tm", "fr_timer", 5000)
modparam("tm", "fr_inv_timer", 120000)
# a browser's Contact names no reachable address (`….invalid;transport=ws`): the registrar keeps where its
# REGISTER came from, and requests to it go back over the same WebSocket connection
modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "natping_interval", 0)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!sanity_check("1511", "7")) {{
        xlog("L_WARN", "voice: malformed SIP from $si:$sp refused (sanity check)\\n");
        exit;
    }}
    if (has_totag()) {{
        route(WITHINDLG);
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (t_precheck_trans()) {{
        t_check_trans();
        exit;
    }}
    t_check_trans();
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (is_method("REGISTER")) {{
        route(REGISTRAR);
        exit;
    }}
    if ({_from_controller(layout)}) {{
        if (!(uri == myself)) {{
            route(TOTRUNK);
            exit;
        }}
        route(TOPHONE);
        exit;
    }}
    if (is_method("INVITE") && ({_trunk_condition(layout.trunk_networks)})) {{
        if (proto == TLS) {{
            add_contact_alias();  # the controller's requests in the call go back over the trunk's connection
        }}
        record_route();
{to_controller}
        exit;
    }}
    xlog("L_WARN", "voice: refused $rm from $si:$sp to $ru (not a trunk address, not the controller)\\n");
    sl_send_reply("403", "Forbidden");
    exit;
}}
{ws_routes}{ds_failure}{_trunk_failure(layout)}
route[WITHINDLG] {{
    if (loose_route()) {{
        if ($ru =~ ";alias=") {{
            handle_ruri_alias();
        }}
        if (is_method("ACK|BYE|CANCEL|UPDATE|INFO|INVITE") && (proto == WS || proto == WSS || proto == TLS)) {{
            add_contact_alias();
        }}
        if (!t_relay()) {{
            sl_reply_error();
        }}
        exit;
    }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    sl_send_reply("404", "Not Here");
    exit;
}}

route[REGISTRAR] {{
{ws_register}    $var(ha1) = $sht(phones=>$au);
    if (is_present_hf("Authorization")) {{
        if ($var(ha1) == $null || $var(ha1) == "" || !pv_www_authenticate("{layout.realm}", "$var(ha1)", "1")) {{
            xlog("L_WARN", "voice: REGISTER for $tu from $si:$sp refused (wrong credentials for '$au')\\n");
            sl_send_reply("403", "Forbidden");
            exit;
        }}
        if ($au != $tU) {{
            sl_send_reply("403", "Forbidden");
            exit;
        }}
        consume_credentials();
        if (proto == TLS) {{
            # the phone's Contact names its own port, not the connection's: requests to it go back over the
            # connection its REGISTER came on (a phone need not accept TLS connections itself)
            fix_nated_register();
        }}
        if (!save("location")) {{
            sl_reply_error();
        }}
        exit;
    }}
    www_challenge("{layout.realm}", "0");
    exit;
}}

route[TOTRUNK] {{
    # only the controller gets here, and only towards the configured carrier: never an open relay
    if (is_method("INVITE") && {_trunk_destination(layout.trunk_address)}) {{
        record_route();
{_trunk_relay(layout)}        if (!t_relay()) {{
            sl_reply_error();
        }}
        exit;
    }}
    xlog("L_WARN", "voice: refused $rm from the controller to $ru (not the configured trunk)\\n");
    sl_send_reply("403", "Forbidden");
    exit;
}}

route[TOPHONE] {{
    if (!is_method("INVITE")) {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    record_route();
    if (!lookup("location")) {{
        sl_send_reply("480", "Not Registered");
        exit;
    }}
{phone_dialog}    if ($ru =~ ";transport=wss?" || $du =~ ";transport=wss?") {{
        # a browser: its page's script sends even the 100 Trying, and a busy machine holds that up for seconds
        # (6.9 s seen with 20 consoles on 2 cores); tm's 5 s would answer 408 and the offer would be declined
        t_set_fr(0, {BROWSER_REPLY_TIMEOUT_MS});
    }}
    t_on_reply("FROMPHONE");
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

onreply_route[FROMPHONE] {{
    if (proto == WS || proto == WSS || proto == TLS) {{
        add_contact_alias();
    }}
}}
"""


def rtpengine_command(layout: EngineLayout, pidfile: Path) -> list[str]:
    return [
        RTPENGINE,
        "--config-file=none",
        "--foreground",
        "--log-stderr",
        "--log-level=5",
        "--table=-1",
        f"--interface={layout.rtp_address}",
        f"--listen-ng={layout.ng_address}:{layout.ng_port}",
        f"--port-min={layout.rtp_port_min}",
        f"--port-max={layout.rtp_port_max}",
        f"--pidfile={pidfile}",
        "--timeout=60",
        "--delete-delay=0",
        # one JSON datagram per RFC 4733 key to the controller, which reads menu choices from them (menu.py)
        *([f"--dtmf-log-dest={layout.controller_address}:{layout.dtmf_port}"] if layout.dtmf_port else []),
        # pcap: the daemon itself writes each recorded call's packets (works in userspace; the `proc` method
        # needs the kernel module); raw: IP packets without a made-up Ethernet header
        *(
            ["--recording-method=pcap", "--recording-format=raw", f"--recording-dir={layout.recording_dir}"]
            if layout.recording_dir is not None
            else []
        ),
    ]


def kamailio_command(config: Path) -> list[str]:
    return [KAMAILIO, "-DD", "-E", "-f", str(config)]


class EngineProcess:
    """One engine as a child process: its PID is written to `<name>.pid`, a leftover from a crashed run is
    stopped first (only if that PID still runs our binary with our files), stop sends SIGTERM then SIGKILL."""

    def __init__(self, name: str, command: list[str], directory: Path) -> None:
        self.name = name
        self.command = command
        self.directory = directory
        self.pidfile = directory / f"{name}.supervised.pid"
        self.logfile = directory / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # a stop waits for a (re)start in flight, so it never leaks the new one

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        if not os.path.exists(self.command[0]):
            raise EngineError(INSTALL_HINT)
        if self.process is not None:  # it died: its children (Kamailio's workers) may still hold the ports
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
        self._stop_leftover()
        with open(self.logfile, "ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - a fixed binary with generated arguments
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{self.process.pid}\n")
        log.info("voice: started %s (pid %s)", self.name, self.process.pid)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_detail(self) -> str:
        code = None if self.process is None else self.process.poll()
        tail = ""
        with contextlib.suppress(OSError):
            tail = self.logfile.read_text(errors="replace")[-800:]
        return f"{self.name} exited with {code}: {tail}"

    def stop(self, grace: float = 5.0) -> None:
        with self._lock:
            if self.process is None:
                return
            _terminate(self.process.pid, grace, self.process)
            self.process = None
        with contextlib.suppress(OSError):
            self.pidfile.unlink()
        log.info("voice: stopped %s", self.name)

    def _stop_leftover(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return
        if cmdline and cmdline[0].decode(errors="replace") == self.command[0]:
            log.warning("voice: stopping %s left over from an earlier run (pid %s)", self.name, pid)
            _terminate(pid, 5.0, None)


def _terminate(pid: int, grace: float, process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to the engine (which stops its own workers), SIGKILL to its whole process group after `grace`
    (each engine leads its own group: started with a new session)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if process is not None:
        process.wait()
