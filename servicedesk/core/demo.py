"""The demo organisation: a service desk, operations and engineering per technology,
managers and their chain, departments of end users, a catalogue, and incidents in
every state with believable histories. Idempotent: running it twice adds nothing.

Other apps add their demo data in ``<app>/demo.py`` with ``load(org)``; it runs
after the organisation is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.catalog.models import (
    Category,
    ConfigurationItem,
    Partner,
    Service,
    Technology,
    UserGroup,
)

from . import clock

DEMO_PASSWORD = "demo"  # noqa: S105 (documented demo credential)
DEMO_LOGINS = [
    ("admin", "administrator"),
    ("desk1", "1st-line agent, Service Desk"),
    ("netops1", "2nd-line agent, Network Operations"),
    ("neteng1", "3rd-line engineer, Network Engineering"),
    ("problem", "problem manager"),
    ("ops.head", "manager (Head of Operations)"),
    ("anna.user", "end user, Finance (self-service portal)"),
]

TECHNOLOGIES = [
    ("network", "Network"), ("servers", "Servers"), ("applications", "Applications"),
    ("email", "E-mail"), ("workplace", "Workplace"), ("databases", "Databases"),
]  # fmt: skip

# (first, last) per technology: 2nd-line manager + 2 agents, 3rd-line manager + 2 engineers
PEOPLE = {
    "network": [("Sergey", "Morozov"), ("Nikita", "Orlov"), ("Elena", "Belova"),
                ("Viktor", "Sokolov"), ("Maria", "Lebedeva"), ("Ilya", "Kozlov")],
    "servers": [("Andrey", "Novikov"), ("Oleg", "Fedorov"), ("Tatiana", "Egorova"),
                ("Roman", "Pavlov"), ("Yulia", "Semenova"), ("Denis", "Golubev")],
    "applications": [("Natalia", "Vinogradova"), ("Artem", "Bogdanov"), ("Ksenia", "Vorobyova"),
                     ("Mikhail", "Frolov"), ("Daria", "Zakharova"), ("Kirill", "Stepanov")],
    "email": [("Alexei", "Nikolaev"), ("Polina", "Yakovleva"), ("Egor", "Romanov"),
              ("Svetlana", "Alexandrova"), ("Maxim", "Makarov"), ("Olga", "Andreeva")],
    "workplace": [("Ivan", "Zaitsev"), ("Vera", "Solovyova"), ("Anton", "Borisov"),
                  ("Galina", "Kiseleva"), ("Yuri", "Tarasov"), ("Lyudmila", "Belyaeva")],
    "databases": [("Boris", "Komarov"), ("Inna", "Krylova"), ("Fedor", "Gusev"),
                  ("Zoya", "Titova"), ("Stepan", "Kuzmin"), ("Alla", "Baranova")],
}  # fmt: skip

DEPARTMENTS = ["Finance", "Sales", "Logistics", "Human Resources", "Production", "Management"]
END_USERS = [
    ("anna.user", "Anna", "Petrova", "Finance"), ("boris.user", "Boris", "Sidorov", "Finance"),
    ("vera.user", "Vera", "Kuznetsova", "Finance"), ("gleb.user", "Gleb", "Smirnov", "Sales"),
    ("dina.user", "Dina", "Volkova", "Sales"), ("efim.user", "Efim", "Popov", "Sales"),
    ("zhanna.user", "Zhanna", "Lebedeva", "Logistics"), ("ivan.user", "Ivan", "Kozlov", "Logistics"),
    ("kira.user", "Kira", "Novikova", "Logistics"), ("lev.user", "Lev", "Morozov", "Human Resources"),
    ("mila.user", "Mila", "Pavlova", "Human Resources"), ("nina.user", "Nina", "Sokolova", "Production"),
    ("oleg.user", "Oleg", "Mikhailov", "Production"), ("pavel.user", "Pavel", "Fedorov", "Production"),
    ("raisa.user", "Raisa", "Egorova", "Management"), ("semen.user", "Semen", "Orlov", "Management"),
]  # fmt: skip

SERVICES = [
    ("E-mail", "email", "Corporate mail, calendars and shared mailboxes."),
    ("ERP", "applications", "Finance, logistics and production planning."),
    ("CRM", "applications", "Customer records and the sales pipeline."),
    ("Internet access", "network", "Office internet uplinks and proxy."),
    ("VPN", "network", "Remote access for staff."),
    ("File storage", "servers", "Department file shares."),
    ("Workplace", "workplace", "PCs, printers and office software."),
    ("Reporting database", "databases", "The data warehouse behind management reports."),
]  # fmt: skip

CIS = [
    ("core-router-01", "router", "Internet access", "network", "Moscow DC"),
    ("edge-fw-01", "firewall", "Internet access", "network", "Moscow DC"),
    ("vpn-gw-01", "VPN gateway", "VPN", "network", "Moscow DC"),
    ("sw-floor2-01", "switch", "Workplace", "network", "Office, floor 2"),
    ("mail-01", "mail server", "E-mail", "email", "Moscow DC"),
    ("mail-db-01", "mailbox database", "E-mail", "email", "Moscow DC"),
    ("erp-app-01", "application server", "ERP", "applications", "Moscow DC"),
    ("erp-db-01", "database server", "ERP", "databases", "Moscow DC"),
    ("crm-web-01", "web server", "CRM", "applications", "Moscow DC"),
    ("fs-01", "file server", "File storage", "servers", "Moscow DC"),
    ("dwh-01", "database server", "Reporting database", "databases", "Moscow DC"),
    ("prn-floor2", "printer", "Workplace", "workplace", "Office, floor 2"),
]  # fmt: skip

CATEGORIES = ["Hardware fault", "Software fault", "Performance", "Access and permissions",
              "Configuration", "Capacity", "Connectivity", "Data", "Other"]  # fmt: skip

PARTNERS = [
    ("Cisco TAC", "vendor", "Support engineer on duty", "tac@cisco.example", "+7 495 000-10-10"),
    ("Microsoft Support", "vendor", "Premier support", "premier@microsoft.example", "+7 495 000-20-20"),
    ("Rostelecom", "provider", "Business line support", "b2b@rt.example", "8 800 000-30-30"),
    ("SAP Support", "vendor", "Customer interaction center", "support@sap.example", "+49 6227 000000"),
    ("OfficePrint LLC", "partner", "Service manager", "service@officeprint.example", "+7 495 000-40-40"),
]  # fmt: skip


@dataclass
class DemoOrg:
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, SupportGroup] = field(default_factory=dict)
    technologies: dict[str, Technology] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    cis: dict[str, ConfigurationItem] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    user_groups: dict[str, UserGroup] = field(default_factory=dict)


def _phone(n: int) -> str:
    return f"+7 495 555-{n // 100:02d}-{n % 100:02d}"


def _person(org: DemoOrg, password: str, username: str, first: str, last: str, *, role: str,
            n: int, title: str = "", manager: User | None = None, dept: str | None = None,
            superuser: bool = False) -> User:  # fmt: skip
    user, _ = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first, "last_name": last, "email": f"{username}@example.com",
            "phone": _phone(n), "role": role, "job_title": title, "manager": manager,
            "user_group": org.user_groups.get(dept) if dept else None, "password": password,
            "is_staff": superuser or role in (Role.ADMIN, Role.MANAGER),
            "is_superuser": superuser, "time_zone": "Europe/Moscow",
        },
    )  # fmt: skip
    org.users[username] = user
    return user


def _group(org: DemoOrg, key: str, name: str, level: int, tech: Technology | None,
           manager: User, members: list[User]) -> SupportGroup:  # fmt: skip
    group, _ = SupportGroup.objects.get_or_create(
        name=name,
        defaults={
            "level": level,
            "technology": tech,
            "manager": manager,
            "email": f"{key}@example.com",
        },
    )
    group.members.add(*members)
    org.groups[key] = group
    return group


def build_organisation() -> DemoOrg:
    org = DemoOrg()
    password = make_password(DEMO_PASSWORD)
    for slug, name in TECHNOLOGIES:
        org.technologies[slug], _ = Technology.objects.get_or_create(
            slug=slug, defaults={"name": name}
        )
    for name in DEPARTMENTS:
        org.user_groups[name], _ = UserGroup.objects.get_or_create(name=name)
    for name in CATEGORIES:
        org.categories[name], _ = Category.objects.get_or_create(name=name)
    for name, kind, contact, email, phone in PARTNERS:
        org.partners[name], _ = Partner.objects.get_or_create(
            name=name,
            defaults={"kind": kind, "contact_name": contact, "email": email, "phone": phone},
        )
    for name, tech, description in SERVICES:
        org.services[name], _ = Service.objects.get_or_create(
            name=name, defaults={"technology": org.technologies[tech], "description": description}
        )
    for name, kind, service, tech, location in CIS:
        org.cis[name], _ = ConfigurationItem.objects.get_or_create(
            name=name, defaults={"kind": kind, "service": org.services[service],
                                 "technology": org.technologies[tech], "location": location},
        )  # fmt: skip

    n = 100
    _person(
        org,
        password,
        "admin",
        "Admin",
        "Istrator",
        role=Role.ADMIN,
        n=n,
        title="System administrator",
        superuser=True,
    )
    cio = _person(
        org,
        password,
        "cio",
        "Olga",
        "Smirnova",
        role=Role.MANAGER,
        n=n + 1,
        title="CIO",
        dept="Management",
    )
    ops_head = _person(
        org,
        password,
        "ops.head",
        "Pavel",
        "Ivanov",
        role=Role.MANAGER,
        n=n + 2,
        title="Head of Operations",
        manager=cio,
    )
    eng_head = _person(
        org,
        password,
        "eng.head",
        "Anna",
        "Kuznetsova",
        role=Role.MANAGER,
        n=n + 3,
        title="Head of Engineering",
        manager=cio,
    )
    desk_mgr = _person(
        org,
        password,
        "desk.mgr",
        "Irina",
        "Popova",
        role=Role.MANAGER,
        n=n + 4,
        title="Service Desk manager",
        manager=ops_head,
    )
    problem = _person(
        org,
        password,
        "problem",
        "Dmitry",
        "Volkov",
        role=Role.PROBLEM_MANAGER,
        n=n + 5,
        title="Problem manager",
        manager=ops_head,
    )
    desk = [
        _person(org, password, f"desk{i}", first, last, role=Role.AGENT, n=n + 10 + i, title="Service Desk agent", manager=desk_mgr)
        for i, (first, last) in enumerate([("Marina", "Gromova"), ("Timur", "Akhmetov"), ("Alina", "Shevchenko"), ("Ruslan", "Kim")], start=1)
    ]  # fmt: skip
    _group(org, "desk", "Service Desk", 1, None, desk_mgr, desk)

    n = 200
    for slug, name in TECHNOLOGIES:
        technology, people, s = org.technologies[slug], PEOPLE[slug], SHORT[slug]
        ops_mgr = _person(
            org,
            password,
            f"{s}ops.mgr",
            *people[0],
            role=Role.MANAGER,
            n=n,
            title=f"{name} Operations manager",
            manager=ops_head,
        )
        ops = [
            _person(
                org,
                password,
                f"{s}ops{i}",
                *people[i],
                role=Role.AGENT,
                n=n + i,
                title=f"{name} operations engineer",
                manager=ops_mgr,
            )
            for i in (1, 2)
        ]
        eng_mgr = _person(
            org,
            password,
            f"{s}eng.mgr",
            *people[3],
            role=Role.MANAGER,
            n=n + 3,
            title=f"{name} Engineering manager",
            manager=eng_head,
        )
        eng = [
            _person(
                org,
                password,
                f"{s}eng{i - 3}",
                *people[i],
                role=Role.AGENT,
                n=n + i,
                title=f"{name} engineer",
                manager=eng_mgr,
            )
            for i in (4, 5)
        ]
        _group(org, f"{s}ops", f"{name} Operations", 2, technology, ops_mgr, ops)
        _group(org, f"{s}eng", f"{name} Engineering", 3, technology, eng_mgr, eng)
        n += 10
    org.groups["netops"].members.add(problem)

    n = 400
    for i, (username, first, last, dept) in enumerate(END_USERS):
        _person(org, password, username, first, last, role=Role.END_USER, n=n + i, dept=dept)
    return org


# ---- incidents ------------------------------------------------------------------------

# Each story: (ref, title, reporter, service, CI, category, blocked users, source, days ago, steps)
# A step: (minutes after opening, verb, actor username, arguments)
Story = tuple[
    str,
    str,
    str,
    str | None,
    str | None,
    str,
    int,
    str,
    float,
    list[tuple[int, str, str, dict[str, Any]]],
]

FIX = {
    "resolution_code": "workaround",
    "resolution": "Restarted the service; users confirmed it works.",
}
STORIES: list[Story] = [
    ("DEMO-001", "Cannot receive e-mail since this morning", "anna.user", "E-mail", "mail-01", "Software fault", 1, "phone", 40,
     [(4, "accept", "desk1", {}), (15, "resolve", "desk1", {"resolution_code": "known_error", "resolution": "Mailbox quota exceeded; archived old items as the known error's workaround describes."}),
      (60 * 20, "close", "anna.user", {"satisfaction": 5})]),
    ("DEMO-002", "Link core-router-01 to the ISP will saturate within two hours", "admin", "Internet access", "core-router-01", "Capacity", 0, "monitoring", 35,
     [(2, "accept", "desk2", {}), (10, "escalate", "desk2", {"reason": "insufficient_knowledge", "comment": "Needs traffic shaping on the router."}),
      (25, "accept", "netops1", {}), (140, "resolve", "netops1", {"resolution_code": "configuration", "resolution": "Moved backup traffic to the night window; utilisation at 55%."}),
      (60 * 30, "close", "admin", {})]),
    ("DEMO-003", "ERP is very slow for the whole Finance department", "boris.user", "ERP", "erp-app-01", "Performance", 18, "phone", 30,
     [(3, "accept", "desk3", {}), (12, "escalate", "desk3", {"reason": "insufficient_knowledge"}),
      (20, "accept", "appops1", {}), (80, "escalate", "appops1", {"reason": "time_expired", "comment": "Locks on the invoice tables; needs development."}),
      (95, "accept", "appeng1", {}), (100, "escalate", "appeng1", {"kind": "hierarchical", "reason": "time_expired", "comment": "Month-end close at risk."}),
      (230, "resolve", "appeng1", {"resolution_code": "permanent_fix", "resolution": "Added the missing index on invoice lines; response time back to normal."}),
      (60 * 24, "close", "boris.user", {"satisfaction": 4})]),
    ("DEMO-004", "VPN drops every ten minutes", "gleb.user", "VPN", "vpn-gw-01", "Connectivity", 3, "email", 26,
     [(10, "accept", "desk1", {}), (30, "escalate", "desk1", {"reason": "insufficient_knowledge"}), (45, "accept", "netops2", {}),
      (60, "pending", "netops2", {"reason": "awaiting_vendor", "comment": "Case opened with Cisco TAC."}),
      (60 * 26, "accept", "netops2", {}), (60 * 27, "resolve", "netops2", dict(FIX, resolution="Upgraded the gateway firmware as Cisco TAC advised.")),
      (60 * 30, "reopen", "gleb.user", {"reason": "It dropped again this morning."}),
      (60 * 33, "resolve", "netops2", {"resolution_code": "configuration", "resolution": "Raised the DPD timeout; stable for 24 hours."}),
      (60 * 60, "close", "gleb.user", {"satisfaction": 3})]),
    ("DEMO-005", "Printer on floor 2 jams on every job", "nina.user", "Workplace", "prn-floor2", "Hardware fault", 1, "portal", 20,
     [(20, "accept", "desk4", {}), (25, "task", "desk4", {"title": "Send the printer technician", "partner": "OfficePrint LLC"}),
      (60 * 5, "resolve", "desk4", {"resolution_code": "permanent_fix", "resolution": "The technician replaced the fuser unit."})]),
    ("DEMO-006", "Cannot log in to CRM: account locked", "dina.user", "CRM", "crm-web-01", "Access and permissions", 1, "phone", 14,
     [(2, "accept", "desk2", {}), (6, "resolve", "desk2", {"resolution_code": "user_instruction", "resolution": "Unlocked the account and reset the password with the user on the phone."})]),
    ("DEMO-007", "File share F: unreachable for Logistics", "zhanna.user", "File storage", "fs-01", "Connectivity", 12, "phone", 9,
     [(3, "accept", "desk3", {}), (8, "escalate", "desk3", {"reason": "insufficient_knowledge"}), (20, "accept", "srvops1", {})]),
    ("DEMO-008", "Outlook keeps asking for a password", "kira.user", "E-mail", None, "Software fault", 1, "portal", 5,
     [(30, "accept", "desk1", {}), (40, "pending", "desk1", {"reason": "awaiting_user", "comment": "Asked the user to try after a restart."})]),
    ("DEMO-009", "Management reports show yesterday's figures", "raisa.user", "Reporting database", "dwh-01", "Data", 4, "email", 3,
     [(15, "accept", "desk2", {}), (30, "escalate", "desk2", {"reason": "insufficient_knowledge"})]),
    ("DEMO-010", "Warehouse scanners cannot post goods receipts", "ivan.user", "ERP", "erp-app-01", "Software fault", 55, "phone", 2,
     [(1, "accept", "desk4", {}), (5, "escalate", "desk4", {"reason": "insufficient_knowledge"}), (12, "accept", "appops2", {}),
      (40, "escalate", "appops2", {"reason": "time_expired"}), (50, "escalate", "desk4", {"kind": "hierarchical", "reason": "time_expired", "comment": "Production line stops at 14:00."})]),
    ("DEMO-011", "New starter needs a mailbox", "mila.user", "E-mail", None, "Access and permissions", 0, "portal", 1,
     [(60, "cancel", "mila.user", {"reason": "Raised as a service request instead."})]),
    ("DEMO-012", "Mail queue on mail-01 growing (monitoring warning)", "admin", "E-mail", "mail-01", "Capacity", 0, "monitoring", 0.3, []),
    ("DEMO-013", "Sales cannot open customer cards in CRM", "efim.user", "CRM", "crm-web-01", "Software fault", 9, "phone", 0.2,
     [(5, "accept", "desk3", {})]),
    ("DEMO-014", "Wi-Fi on floor 2 is very slow", "lev.user", "Workplace", "sw-floor2-01", "Performance", 6, "walk_in", 0.1,
     [(3, "assign", "desk1", {"group": "netops"})]),
    ("DEMO-015", "Payroll export fails with error E-1042", "mila.user", "ERP", "erp-db-01", "Data", 2, "email", 12,
     [(10, "accept", "desk4", {}), (20, "escalate", "desk4", {"reason": "insufficient_knowledge"}), (40, "accept", "dbops1", {}),
      (60, "pending", "dbops1", {"reason": "awaiting_problem", "comment": "Same cause as last month's export failures."})]),
    ("DEMO-016", "Laptop does not start", "pavel.user", "Workplace", None, "Hardware fault", 1, "walk_in", 8,
     [(2, "accept", "desk2", {}), (30, "resolve", "desk2", {"resolution_code": "permanent_fix", "resolution": "Replaced the power adapter."}),
      (60 * 24 * 6, "close", "admin", {})]),
]  # fmt: skip


# More incidents, generated from everyday complaints so every state has company.
EVERYDAY = [
    (
        "Shared mailbox for Sales not visible in Outlook",
        "E-mail",
        "mail-01",
        "Access and permissions",
    ),
    ("Cannot print invoices from ERP", "ERP", "erp-app-01", "Software fault"),
    ("CRM search times out", "CRM", "crm-web-01", "Performance"),
    ("VPN password expired while travelling", "VPN", "vpn-gw-01", "Access and permissions"),
    ("No network on desk 2-14", "Workplace", "sw-floor2-01", "Connectivity"),
    ("Monthly sales report empty", "Reporting database", "dwh-01", "Data"),
    ("File share quota exceeded for Finance", "File storage", "fs-01", "Capacity"),
    (
        "Website of a supplier blocked by the proxy",
        "Internet access",
        "edge-fw-01",
        "Configuration",
    ),
    ("Calendar invitations arrive twice", "E-mail", "mail-01", "Software fault"),
    ("ERP session drops after five minutes", "ERP", "erp-app-01", "Software fault"),
    ("Monitor flickers", "Workplace", None, "Hardware fault"),
    ("Scanner does not send to e-mail", "Workplace", "prn-floor2", "Configuration"),
]
# outcome -> steps (minutes, verb, actor, args); "{ops}" is the technology's 2nd-line agent
OUTCOMES: list[list[tuple[int, str, str, dict[str, Any]]]] = [
    [],
    [(5, "accept", "desk2", {})],
    [
        (5, "accept", "desk3", {}),
        (9, "pending", "desk3", {"reason": "awaiting_user", "comment": "Asked for a screenshot."}),
    ],
    [(5, "accept", "desk1", {}), (20, "escalate", "desk1", {"reason": "insufficient_knowledge"})],
    [
        (5, "accept", "desk4", {}),
        (20, "escalate", "desk4", {"reason": "insufficient_knowledge"}),
        (35, "accept", "{ops}", {}),
    ],
    [
        (5, "accept", "desk2", {}),
        (
            25,
            "resolve",
            "desk2",
            {
                "resolution_code": "user_instruction",
                "resolution": "Showed the user the setting; it works now.",
            },
        ),
    ],
    [
        (5, "accept", "desk1", {}),
        (40, "resolve", "desk1", FIX),
        (60 * 24, "close", "{reporter}", {"satisfaction": 5}),
    ],
    [
        (5, "accept", "desk3", {}),
        (15, "escalate", "desk3", {"reason": "insufficient_knowledge"}),
        (30, "accept", "{ops}", {}),
        (
            200,
            "resolve",
            "{ops}",
            {"resolution_code": "configuration", "resolution": "Corrected the configuration."},
        ),
        (60 * 30, "close", "{reporter}", {"satisfaction": 4}),
    ],
    [(30, "cancel", "{reporter}", {"reason": "Solved it myself."})],
]
SHORT = {"network": "net", "servers": "srv", "applications": "app", "email": "mail",
         "workplace": "wp", "databases": "db"}  # fmt: skip


def _ops_agent(service: str, ci: str | None) -> str:
    """The 2nd-line agent of the technology the incident will carry (the CI's, else the service's)."""
    tech = next((t for name, _, _, t, _ in CIS if name == ci), None) or next(
        t for name, t, _ in SERVICES if name == service
    )
    return f"{SHORT[tech]}ops1"


def everyday_stories() -> list[Story]:
    stories: list[Story] = []
    reporters = [username for username, *_ in END_USERS]
    for i in range(27):
        title, service, ci, category = EVERYDAY[i % len(EVERYDAY)]
        reporter = reporters[(i * 5) % len(reporters)]
        ops = _ops_agent(service, ci)
        steps = [
            (
                minutes,
                verb,
                ops if actor == "{ops}" else reporter if actor == "{reporter}" else actor,
                args,
            )
            for minutes, verb, actor, args in OUTCOMES[i % len(OUTCOMES)]
        ]
        days_ago = 1 + (i * 37 % 80) if i % len(OUTCOMES) >= 5 else (i % 4) * 0.3 + 0.05
        blocked = [1, 1, 2, 0, 3, 12, 1][i % 7]
        stories.append((f"DEMO-{101 + i}", title, reporter, service, ci, category, blocked,
                        ["phone", "email", "portal", "walk_in"][i % 4], days_ago, steps))  # fmt: skip
    return stories


def _apply_step(
    org: DemoOrg, incident_id: int, verb: str, actor: User, args: dict[str, Any]
) -> None:
    from servicedesk.incidents import services as s

    if verb == "accept":
        s.do_accept(incident=incident_id, actor=actor)
    elif verb == "assign":
        s.do_assign(incident=incident_id, actor=actor, group=org.groups[args["group"]])
    elif verb == "escalate":
        s.do_escalate(incident=incident_id, actor=actor, **args)
    elif verb == "pending":
        s.do_set_pending(incident=incident_id, actor=actor, **args)
    elif verb == "resolve":
        s.do_resolve(incident=incident_id, actor=actor, **args)
    elif verb == "close":
        s.do_close(incident=incident_id, actor=actor, **args)
    elif verb == "reopen":
        s.do_reopen(incident=incident_id, actor=actor, **args)
    elif verb == "cancel":
        s.do_cancel(incident=incident_id, actor=actor, **args)
    elif verb == "task":
        s.do_add_task(
            incident=incident_id,
            actor=actor,
            title=args["title"],
            partner=org.partners[args["partner"]],
        )
    else:  # pragma: no cover - a typo in STORIES
        raise ValueError(verb)


def build_incidents(org: DemoOrg, now: datetime | None = None) -> int:
    from servicedesk.incidents import services as s
    from servicedesk.incidents.models import Incident

    now = now or timezone.now()
    created = 0
    for ref, title, reporter, service, ci, category, blocked, source, days_ago, steps in (
        STORIES + everyday_stories()
    ):
        if Incident.objects.filter(external_ref=ref).exists():
            continue
        opened = now - timedelta(days=days_ago)
        actor = org.users["desk1"] if source != "portal" else org.users[reporter]
        with transaction.atomic():
            with clock.frozen_at(opened):
                incident = s.do_create_incident(
                    actor=actor, title=title, reporter=org.users[reporter], source=source,
                    service=org.services.get(service or ""), configuration_item=org.cis.get(ci or ""),
                    category=org.categories[category], affected_users=blocked, external_ref=ref,
                    business_impact="Users cannot complete their work." if blocked else "",
                    description=f"{title}. Reported by {org.users[reporter]}.",
                )  # fmt: skip
            for minutes, verb, username, args in steps:
                with clock.frozen_at(opened + timedelta(minutes=minutes)):
                    _apply_step(org, incident.pk, verb, org.users[username], args)
        created += 1
    return created


def build() -> list[str]:
    """Build everything; returns a summary of what exists."""
    with transaction.atomic():
        org = build_organisation()
    created = build_incidents(org)
    from servicedesk.api import APPS

    modules = []
    for app in [a for a in APPS if a != "core"]:
        try:
            modules.append(import_module(f"servicedesk.{app}.demo"))
        except ModuleNotFoundError as exc:
            if exc.name != f"servicedesk.{app}.demo":
                raise
    # A module may ask to run after the others (``DEMO_ORDER``, default 50): the
    # escalation replay must see every demo incident, whichever app made it.
    for module in sorted(modules, key=lambda m: getattr(m, "DEMO_ORDER", 50)):
        module.load(org)
    from servicedesk.incidents.models import Incident

    return [
        f"{User.objects.count()} users, {SupportGroup.objects.count()} support groups, "
        f"{Service.objects.count()} services, {ConfigurationItem.objects.count()} configuration items",
        f"{Incident.objects.count()} incidents ({created} new)",
    ]
