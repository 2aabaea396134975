//! EC2: instances and their state machine, instance types, images, launch templates,
//! key pairs, security groups, VPCs and subnets.
