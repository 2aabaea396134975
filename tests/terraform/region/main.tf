# A VPC, subnet, security group and instance in eu-west-2, with no skip_region_validation:
# what tests/aws/test_regions.py applies to show a region other than us-east-1 works with
# Terraform as on AWS (zones from DescribeAvailabilityZones, ARNs and DNS with the region).

variable "endpoint" {
  type = string
}

provider "aws" {
  region     = "eu-west-2"
  access_key = "test"
  secret_key = "test"

  skip_metadata_api_check = true

  endpoints {
    ec2         = var.endpoint
    autoscaling = var.endpoint
    elbv2       = var.endpoint
    cloudwatch  = var.endpoint
    sts         = var.endpoint
    iam         = var.endpoint
    ssm         = var.endpoint
  }
}

data "aws_availability_zones" "here" {
  state = "available"
}

data "aws_vpc" "default" {
  default = true
}

data "aws_ssm_parameter" "base_image" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_vpc" "app" {
  cidr_block = "10.50.0.0/16"
}

resource "aws_subnet" "app" {
  vpc_id            = aws_vpc.app.id
  cidr_block        = "10.50.1.0/24"
  availability_zone = data.aws_availability_zones.here.names[1]
}

resource "aws_security_group" "app" {
  name        = "app"
  description = "the app"
  vpc_id      = aws_vpc.app.id
}

resource "aws_instance" "app" {
  ami                    = data.aws_ssm_parameter.base_image.value
  instance_type          = "t2.micro"
  subnet_id              = aws_subnet.app.id
  vpc_security_group_ids = [aws_security_group.app.id]
}

output "zones" {
  value = join(",", data.aws_availability_zones.here.names)
}

output "default_vpc_id" {
  value = data.aws_vpc.default.id
}

output "subnet_arn" {
  value = aws_subnet.app.arn
}

output "instance_id" {
  value = aws_instance.app.id
}

output "private_dns" {
  value = aws_instance.app.private_dns
}
