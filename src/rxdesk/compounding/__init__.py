"""Compounding: master formulation records, compounding records with beyond-use dates by
USP <795>/<797>, hazardous-drug handling by USP <800>, the cleanroom's monitoring and the
staff's competency. Pure rules live in bud.py, competency.py and hd.py; the pharmacy math
in rxdesk.calc."""
