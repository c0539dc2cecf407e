"""Teams: who owns applications and APIs, the members' roles and their invitations."""
