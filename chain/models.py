# Networks, deployments, the outbox and indexed events arrive with the contracts issue.
