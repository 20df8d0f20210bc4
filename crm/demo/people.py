"""The demo's people: the administrator, one team per six reps, each managed by its own
supervisor, and the names the reps and the customers' contacts are given. Every login shares
the published demo password."""

import math

from django.contrib.auth.models import User

from crm.demo.loading import insert, join_group, role_group
from crm.demo.registry import DemoContext, demo_seeder
from crm.models import Team
from crm.roles import GROUP_ADMIN, GROUP_SUPERVISOR

REPS_PER_TEAM = 6
TEAM_NAMES = ["North", "South", "East", "West"]  # then "Team 5", "Team 6", ...

FIRST_NAMES = [
    "Ana", "Luis", "Marta", "Javier", "Lucía", "Carlos", "Elena", "Pablo", "Sara", "Diego",
    "Laura", "Miguel", "Carmen", "Jorge", "Paula", "Andrés", "Irene", "Raúl", "Nuria", "Sergio",
    "Clara", "Tomás", "Inés", "Hugo", "Alba", "Marc", "Julia", "Iván", "Noelia", "Óscar",
]  # fmt: skip
LAST_NAMES = [
    "García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz",
    "Hernández", "Díaz", "Moreno", "Álvarez", "Romero", "Navarro", "Torres", "Domínguez",
    "Vázquez", "Ramos", "Gil", "Serrano", "Blanco", "Molina", "Castro", "Ortega", "Rubio",
]  # fmt: skip


def employee_code(number: int) -> str:
    return f"EMP-{number:04d}"


def team_name(index: int) -> str:
    return TEAM_NAMES[index] if index < len(TEAM_NAMES) else f"Team {index + 1}"


def team_of(context: DemoContext, number: int) -> Team:
    """The team of rep `number`: the first six reps are North's, the next six South's, …"""
    return context.teams[(number - 1) // REPS_PER_TEAM]


@demo_seeder("admin", order=10)
def seed_admin(context: DemoContext) -> None:
    group = role_group(GROUP_ADMIN)
    if User.objects.filter(username="admin").exists():
        return
    admin = User.objects.create(
        username="admin",
        first_name="Demo",
        last_name="Admin",
        email="admin@demo.example",
        password=context.password_hash,
        is_staff=True,
        is_superuser=True,
    )
    admin.groups.add(group)
    context.count("users", 1)


@demo_seeder("teams", order=30)
def seed_teams(context: DemoContext) -> None:
    """One team per REPS_PER_TEAM reps, each managed by its own supervisor."""
    group = role_group(GROUP_SUPERVISOR)
    names = [team_name(index) for index in range(math.ceil(context.rep_count / REPS_PER_TEAM))]
    teams = {team.name: team for team in Team.objects.filter(name__in=names)}
    missing = [index for index, name in enumerate(names) if name not in teams]
    if missing:
        usernames = {index: f"supervisor{index + 1}" for index in missing}
        supervisors = {
            user.username: user
            for user in User.objects.filter(username__in=list(usernames.values()))
        }
        new_supervisors = [
            User(
                username=username,
                first_name="Supervisor",
                last_name=names[index],
                email=f"{username}@demo.example",
                password=context.password_hash,
            )
            for index, username in usernames.items()
            if username not in supervisors
        ]
        insert(context, User, new_supervisors)
        join_group(new_supervisors, group)
        supervisors.update({user.username: user for user in new_supervisors})
        new_teams = [
            Team(name=names[index], manager=supervisors[username])
            for index, username in usernames.items()
        ]
        insert(context, Team, new_teams)
        teams.update({team.name: team for team in new_teams})
    context.teams = [teams[name] for name in names]


def logins(rep_count: int) -> list[tuple[str, str]]:
    """Who can sign in to the demo of `rep_count` reps, and as what."""
    people = [("admin", "administrator")]
    for index in range(math.ceil(rep_count / REPS_PER_TEAM)):
        first = index * REPS_PER_TEAM + 1
        last = min(rep_count, first + REPS_PER_TEAM - 1)
        members = f"rep{first}" if first == last else f"rep{first}..rep{last}"
        people.append((f"supervisor{index + 1}", f"supervisor of {team_name(index)} ({members})"))
    if rep_count:
        people.append(("rep1" if rep_count == 1 else f"rep1..rep{rep_count}", "sales reps"))
    return people
