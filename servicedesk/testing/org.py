"""A small, complete organisation for tests: the shape of SPEC section 4.

Two technologies (network, e-mail), a service desk (1st line), operations
(2nd line) and engineering (3rd line) per technology, managers with a chain,
end users in departments, a service and a CI per technology.
"""

from __future__ import annotations

from dataclasses import dataclass

from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.catalog.models import ConfigurationItem, Service, Technology, UserGroup

from .factories import (
    ConfigurationItemFactory,
    ServiceFactory,
    SupportGroupFactory,
    TechnologyFactory,
    UserFactory,
    UserGroupFactory,
)


@dataclass
class Org:
    network: Technology
    email: Technology
    finance: UserGroup
    sales: UserGroup
    cio: User
    ops_head: User
    eng_head: User
    desk_manager: User
    desk_agent: User
    desk_agent2: User
    net_ops_manager: User
    net_ops_agent: User
    net_eng_manager: User
    net_engineer: User
    mail_ops_manager: User
    mail_ops_agent: User
    mail_eng_manager: User
    mail_engineer: User
    problem_manager: User
    admin: User
    reporter: User
    reporter2: User
    service_desk: SupportGroup
    net_ops: SupportGroup
    net_eng: SupportGroup
    mail_ops: SupportGroup
    mail_eng: SupportGroup
    internet: Service
    mail: Service
    router: ConfigurationItem
    mail_server: ConfigurationItem


def build_org() -> Org:
    network = TechnologyFactory.create(name="Network", slug="network")
    email = TechnologyFactory.create(name="E-mail", slug="email")
    finance = UserGroupFactory.create(name="Finance")
    sales = UserGroupFactory.create(name="Sales")

    def person(
        username: str, role: str = Role.AGENT, manager: User | None = None, **kw: object
    ) -> User:
        return UserFactory.create(username=username, role=role, manager=manager, **kw)

    cio = person("cio", Role.MANAGER)
    ops_head = person("ops_head", Role.MANAGER, cio)
    eng_head = person("eng_head", Role.MANAGER, cio)
    desk_manager = person("desk_manager", Role.MANAGER, ops_head)
    desk_agent = person("desk_agent", Role.AGENT, desk_manager)
    desk_agent2 = person("desk_agent2", Role.AGENT, desk_manager)
    net_ops_manager = person("net_ops_manager", Role.MANAGER, ops_head)
    net_ops_agent = person("net_ops_agent", Role.AGENT, net_ops_manager)
    net_eng_manager = person("net_eng_manager", Role.MANAGER, eng_head)
    net_engineer = person("net_engineer", Role.AGENT, net_eng_manager)
    mail_ops_manager = person("mail_ops_manager", Role.MANAGER, ops_head)
    mail_ops_agent = person("mail_ops_agent", Role.AGENT, mail_ops_manager)
    mail_eng_manager = person("mail_eng_manager", Role.MANAGER, eng_head)
    mail_engineer = person("mail_engineer", Role.AGENT, mail_eng_manager)
    problem_manager = person("problem_manager", Role.PROBLEM_MANAGER, ops_head)
    admin = person("admin", Role.ADMIN, is_staff=True, is_superuser=True)
    reporter = person("reporter", Role.END_USER, user_group=finance)
    reporter2 = person("reporter2", Role.END_USER, user_group=sales)

    service_desk = SupportGroupFactory.create(name="Service Desk", level=1, technology=None,
                                       manager=desk_manager, members=[desk_agent, desk_agent2])  # fmt: skip
    net_ops = SupportGroupFactory.create(name="Network Operations", level=2, technology=network,
                                  manager=net_ops_manager, members=[net_ops_agent, problem_manager])  # fmt: skip
    net_eng = SupportGroupFactory.create(name="Network Engineering", level=3, technology=network,
                                  manager=net_eng_manager, members=[net_engineer])  # fmt: skip
    mail_ops = SupportGroupFactory.create(name="Mail Operations", level=2, technology=email,
                                   manager=mail_ops_manager, members=[mail_ops_agent])  # fmt: skip
    mail_eng = SupportGroupFactory.create(name="Mail Engineering", level=3, technology=email,
                                   manager=mail_eng_manager, members=[mail_engineer])  # fmt: skip
    internet = ServiceFactory.create(name="Internet access", technology=network)
    mail = ServiceFactory.create(name="E-mail", technology=email)
    router = ConfigurationItemFactory.create(
        name="core-router-01", service=internet, technology=network
    )
    mail_server = ConfigurationItemFactory.create(name="mail-01", service=mail, technology=email)
    return Org(**{k: v for k, v in locals().items() if k in Org.__dataclass_fields__})
