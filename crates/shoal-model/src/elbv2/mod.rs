//! Elastic Load Balancing v2 (Application Load Balancer): load balancers, listeners,
//! rules, target groups and the target-health state machine.
